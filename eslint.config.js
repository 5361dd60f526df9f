// Lint rules: typescript-eslint's type-aware recommended set, plus the two rules that keep
// secrets out of output (no console in src: the logger redacts) and `any` out of the code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const KEYGEN = 'packages/client/src/cli/partner-keygen.ts';
const RESTRICTED = {
  jose: 'Use the JOSE layer (packages/client/src/jose/, in the gateway src/jose/) instead of importing jose.',
  'node-forge': `node-forge is only for ${KEYGEN}.`,
};

function restrictImports(files, ignores, names) {
  return {
    files,
    ignores,
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: names.map((name) => ({ name, message: RESTRICTED[name] })), patterns: names.map((name) => `${name}/*`) },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['**/dist/', '**/node_modules/', '.cache/', 'data/', 'store-server/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // Plain JavaScript run by Node as it is (scripts/run-built.mjs, docs/examples/*.mjs): no type information.
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } } },
  {
    files: ['src/**/*.ts', 'packages/client/src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  // jose is wrapped once (packages/client/src/jose/: allow-lists, key checks, error mapping; the
  // gateway reaches it through src/jose/); node-forge only makes partners' X.509 certificates
  // (the keygen). Nothing else imports either.
  restrictImports(['**/*.ts'], ['packages/client/src/jose/**', KEYGEN], ['jose', 'node-forge']),
  restrictImports(['packages/client/src/jose/**'], [], ['node-forge']),
  restrictImports([KEYGEN], [], ['jose']),
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // supertest types response bodies as any; the assertions themselves check the shape.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
