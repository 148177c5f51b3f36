// ESLint 9 flat config. TypeScript files are linted with type information (typescript-eslint's
// recommendedTypeChecked, each file checked against its folder's tsconfig.json through the project
// service); plain JavaScript files get ESLint's recommended rules and Node globals, without types.
// eslint-config-prettier comes last so that no rule here ever disagrees with Prettier.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import prettier from 'eslint-config-prettier/flat';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'coverage/', 'bench/results/', 'node_modules/'], 'ccgate/ignores'),

  {
    name: 'ccgate/all',
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },

  // Plain JavaScript: *.js is CommonJS (package.json has no "type"), *.mjs is ESM. No type information.
  {
    name: 'ccgate/javascript',
    files: ['**/*.{js,cjs,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 'latest', globals: { ...globals.node } },
  },
  { name: 'ccgate/commonjs', files: ['**/*.{js,cjs}'], languageOptions: { sourceType: 'commonjs' } },
  { name: 'ccgate/esm', files: ['**/*.mjs'], languageOptions: { sourceType: 'module' } },

  // TypeScript, type-aware, everywhere (lib/, sample-app/, bench/, test/).
  {
    name: 'ccgate/typescript',
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // The code base writes `import { x, type Y } from '...'`.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // Same conventions as tsc's noUnusedLocals/noUnusedParameters: a leading _ marks "unused on purpose".
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },

  // Tests: JSON bodies (supertest's res.body, parsed child-process output) are `any` by nature;
  // jest's expect(obj.method) is not an unbound call; fakes and callbacks passed to helpers that take
  // `() => Promise<T>` are written `async () => value`. The promise-safety rules stay on.
  {
    name: 'ccgate/tests',
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },

  prettier,
);
