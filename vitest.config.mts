import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests (fakes allowed) and e2e tests that drive real containerd,
// micad-sim and qemu-system-arm. e2e files run one at a time: they share the machine's 2 cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
