'use strict';
// Loads the native addon (napi-rs's generated loader, native.js), and says which platform lacks
// a binary when there is none for this one.
let binding;
try {
  binding = require('./native.js');
} catch (cause) {
  const error = new Error(
    `roomcast: no native binary for ${process.platform}-${process.arch}. ` +
      'This package ships one for linux-x64-gnu; on other platforms build it from source ' +
      '(`npm run build` in the roomcast repository).',
  );
  error.code = 'ERR_ROOMCAST_NO_BINARY';
  error.cause = cause;
  throw error;
}
module.exports = binding;
