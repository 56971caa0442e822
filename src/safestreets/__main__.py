from safestreets.cli import main

main()
