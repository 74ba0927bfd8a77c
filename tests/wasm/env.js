// env.js - pre-js of the wasm unit-test programs: hand node's environment to getenv(), so
// the tests find POLYP_SOURCE_DIR and POLYP_TESTDATA as they do natively.
Module['preRun'] = Module['preRun'] || [];
Module['preRun'].push(function () {
  // ENV exists only when the program calls getenv (the linker drops it otherwise).
  if (typeof ENV != "undefined") for (var k in process.env) ENV[k] = process.env[k];
});
