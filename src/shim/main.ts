process.stderr.write('containerd-shim-mica-v2: not built yet\n');
process.exit(1);
