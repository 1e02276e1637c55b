"""`python -m agent.catalog`: write the bundled bank's shared parse cache (at install time, like compileall)."""

from agent.catalog import compile_bundled

if __name__ == "__main__":
    print(f"bank parse cache: {compile_bundled() or 'off'}")
