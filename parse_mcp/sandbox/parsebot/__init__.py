"""The emulated Parse.bot service: keys, limits, credits, schemas, execution, dispatch, marketplace, sessions."""
