"""Thin MCP tool adapters: arguments -> one service call -> `ToolResult`."""
