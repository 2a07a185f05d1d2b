"""The command line (typer): one module per command group, registered through the one table
`COMMANDS` in main.py and imported only when its command runs. A command parses its
arguments, calls one core function and renders the result (rich for people, `--json` for
machines); every error goes through main.py's one handler (docs/commands.md)."""
