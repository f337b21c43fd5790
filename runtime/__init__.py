"""App runtimes behind one interface: ``sandbox`` (bubblewrap) and, later, ``docker``."""
