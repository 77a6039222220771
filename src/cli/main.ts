process.stderr.write('micrun: not built yet\n');
process.exit(1);
