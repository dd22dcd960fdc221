"""Books Catalogue: the friendly API and the catalogue pages at the root of the site."""
