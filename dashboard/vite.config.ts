import { defineConfig } from "vite";

// Served under /dashboard/ by `tidings dev` (the local API's origin); on AWS from wherever the stack
// hosts it, with config.json beside index.html.
export default defineConfig({
  base: "./",
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, sourcemap: false },
});
