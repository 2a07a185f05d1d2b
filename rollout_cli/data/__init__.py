"""The logs as DuckDB sees them (docs/data.md): source.py opens files or tables read-only and
checks column roles; queries.py builds the one statement that measures a stage; scans.py the
light scans around it. SQL is built here only, with parameters and checked, quoted identifiers."""
