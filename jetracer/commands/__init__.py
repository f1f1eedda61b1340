"""One module per ``jetracer`` subcommand: ``add_arguments(parser)`` and ``run(args)``."""
