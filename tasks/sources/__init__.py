"""Sources: files, SQL databases and warehouses, read in chunks."""
