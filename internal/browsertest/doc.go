// Package browsertest proves the API's browser contract in a real browser: headless Chromium loads a
// page from one loopback origin and calls a whole edugrid (internal/apptest) on another, so CORS,
// preflights and the headers a frontend reads are checked by the browser's own rules rather than by
// assertions about headers.
//
// The tests need Debian's chromium package (scripts/chromium.sh installs it). Without it they skip
// with that advice, except under CI=true, where a missing browser fails them.
package browsertest
