#!/usr/bin/env node
// Writes the page's runtime configuration for one deployment into the build output (the azd `predeploy` hook of
// the web service runs it after azd's own `npm run build`, just before azd uploads dist/):
//   API_BASE_URL=https://func-x.azurewebsites.net node scripts/write-runtime-config.mjs
//     → dist/config.json               {"apiBaseUrl": "...", "auth": null | {clientId, authority, scopes}}
//     → dist/staticwebapp.config.json  the template with the API origin (and, with sign-in, the login origin) in the CSP
// With --clean it writes the local state instead (no config.json, CSP connect-src 'self'): `npm run build` ends with
// it, and after the deploy the `postdeploy` hook runs it, so a local run that serves dist/ never calls the deployed API.
// Sign-in is on when AZURE_AUTH_ENABLED=true; the preprovision hook sets AZURE_AUTH_TENANT_ID,
// AZURE_AUTH_SPA_CLIENT_ID and AZURE_AUTH_API_CLIENT_ID. Tracked files under public/ are never touched, so a failed
// build or deploy leaves the tree clean.
// No entry-point check: this file only runs; the logic it calls lives in runtime-config.mjs.
import { writeRuntimeConfigFromEnvironment } from "./runtime-config.mjs";

try {
  console.log(writeRuntimeConfigFromEnvironment(process.env, process.argv.slice(2)));
} catch (error) {
  console.error(`write-runtime-config: ${error.message}`);
  process.exit(1);
}
