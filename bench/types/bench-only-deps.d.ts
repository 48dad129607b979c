// Packages that only bench/package.json installs (`npm run bench` runs `npm ci --prefix bench`). The type check of
// the scripts (tsconfig.scripts.json) runs on every fresh clone, where bench/node_modules does not exist: declaring
// them here keeps that check the same with or without the benchmark install (their values are `any`).
declare module 'autocannon';
