from pipelines.cli import main

# Guarded: worker processes (pipelines/gx_worker.py) import the main module again.
if __name__ == "__main__":
    raise SystemExit(main())
