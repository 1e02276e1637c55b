"""One module per `coach` command; importing a module registers its command on `bots.app.app`."""
