# Pin maps, one module per board. board.py loads the one named in config.json ("board").
