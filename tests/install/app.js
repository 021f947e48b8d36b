'use strict';
// A Node.js program outside the pyrt repository, as a user writes it after installing the
// binding's npm package (npm pack of bindings/node) and libpyrt (`make install`).
// scripts/test-install.sh runs it with the install prefix on LD_LIBRARY_PATH and no PYRT_LIBRARY.
const { Runtime, PythonError } = require('pyrt');

const rt = new Runtime();
const info = rt.info();
console.log(`libpyrt: ${info.library} ${info.pyrtVersion} ${info.sourceHash}`);
console.log(`python: ${info.pythonVersion} ${info.libpython}`);
console.log(`math.sqrt(16) = ${rt.call('math', 'sqrt', 16)}`);
try {
  rt.run('1/0');
} catch (e) {
  if (!(e instanceof PythonError)) throw e;
  console.log(`1/0 raised ${e.pythonType}`);
}
rt.close();
