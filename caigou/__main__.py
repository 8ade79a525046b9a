from caigou.cli import main

main()
