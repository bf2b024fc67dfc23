import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Import boundaries between the layers (docs/design.md, "Layers"): each folder lists the folders it
 * may not import from. The composition root (src/compose.ts) and the CLIs wire everything.
 */
const layer = (folders) => `^(\\.\\./)+(${folders})(/|$)`;
// Every src/ rule carries this too: a later rule for a file replaces an earlier one.
const devStack = { regex: layer('dev'), message: 'The service must not import the local stack (dev/).' };
const boundary = (forbidden, why) => ({
  'no-restricted-imports': [
    'error',
    { patterns: forbidden === undefined ? [devStack] : [devStack, { regex: forbidden, message: why }] },
  ],
});
const boundaries = [
  ['src/**'],
  ['src/events/**', layer('commands|projections|queries|workers|http'), 'events/ is the bottom layer.'],
  ['src/commands/**', layer('projections|queries|workers|http'), 'commands/ may use events/ only.'],
  ['src/projections/**', layer('commands|queries|workers|http'), 'projections/ may use events/ only.'],
  ['src/queries/**', layer('commands|workers|http'), 'queries/ may use events/ and projections/.'],
  ['src/workers/**', layer('queries|http'), 'workers/ may use events/, commands/ and projections/.'],
  ['src/http/**', layer('workers|projections'), 'http/ may use commands/ and queries/.'],
];
// Reads of the upload claims (which uploads are storing or stopped): verify and /health tell them apart.
const boundaryExceptions = [
  [
    'src/projections/verify.ts',
    `${layer('queries|workers|http')}|^(\\.\\./)+commands/(?!uploadBatch/batchClaims$)`,
    'projections/ may use events/ only.',
  ],
  [
    'src/queries/checkHealth.ts',
    `${layer('workers|http')}|^(\\.\\./)+commands/(?!uploadBatch/batchClaims$)`,
    'queries/ may use events/ and projections/.',
  ],
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-dev/**',
      'node_modules/**',
      'coverage/**',
      '.data/**',
      '.bin/**',
      'artifacts/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration through src/config.ts only.',
        },
      ],
    },
  },
  ...[...boundaries, ...boundaryExceptions].map(([glob, forbidden, why]) => ({
    files: [glob],
    rules: boundary(forbidden, why),
  })),
  {
    files: ['src/config.ts', 'dev/**', 'tests/**', 'scripts/**', 'bench/**', 'chaos/**', 'jest.config.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: {
        module: 'readonly',
        require: 'readonly',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
  },
  {
    // The web UI: browser modules, type-checked through their JSDoc (src/http/public/tsconfig.json).
    files: ['src/http/public/**/*.js'],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: {
      sourceType: 'module',
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        requestAnimationFrame: 'readonly',
        ResizeObserver: 'readonly',
        XMLHttpRequest: 'readonly',
        FormData: 'readonly',
        URLSearchParams: 'readonly',
        Intl: 'readonly',
        Node: 'readonly',
        HTMLElement: 'readonly',
        HTMLInputElement: 'readonly',
        HTMLFormElement: 'readonly',
        HTMLButtonElement: 'readonly',
        HTMLProgressElement: 'readonly',
        HTMLSelectElement: 'readonly',
        HTMLTableRowElement: 'readonly',
        SVGElement: 'readonly',
        Blob: 'readonly',
        URL: 'readonly',
        File: 'readonly',
      },
    },
    rules: { '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }] },
  },
);
