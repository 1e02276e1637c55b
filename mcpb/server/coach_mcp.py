"""Claude Desktop starts this with the Python the user chose (the bundle's `python` setting):
it runs the coach's MCP server over stdio from the `interview-coach` package installed there."""

import importlib.util
import runpy
import sys

if importlib.util.find_spec("mcp_server") is None:
    sys.stderr.write(f"error: the interview coach is not installed for {sys.executable}: run "
                     "`pip install -e .` in the coach's repository with that Python, or set the bundle's Python "
                     "setting to the python of the virtualenv where it is installed\n")
    sys.exit(2)
sys.argv[0] = "mcp_server"
runpy.run_module("mcp_server", run_name="__main__", alter_sys=True)
