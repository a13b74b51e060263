"""xietong 协同: the library every face calls (the command line, the desk, Python users)."""
