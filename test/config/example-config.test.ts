import path from 'node:path';
import { expect, test } from 'vitest';
import { defaultConfig, loadConfig } from '../../src/config';

test('configs/config.toml is valid and documents exactly the defaults', () => {
  const file = path.resolve(__dirname, '../../configs/config.toml');
  const { source, ...config } = loadConfig({ env: {}, path: file });
  expect(source).toBe(file);
  expect(config).toEqual(defaultConfig());
});
