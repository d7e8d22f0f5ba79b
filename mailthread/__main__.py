"""Entry point of the ``mailthread`` console script and of ``python -m mailthread``.

``match`` runs once per incoming mail, so it is dispatched here before click is imported.
"""

import sys


def main() -> int:
    argv = sys.argv[1:]
    from mailthread import filter

    if filter.is_match_command(argv):
        return filter.main(argv)
    from mailthread import cli

    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
