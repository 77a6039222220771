process.stderr.write('micad-sim: not built yet\n');
process.exit(1);
