// Runs the named async tests of a serve test script in order (all of them, or those listed in
// ONLY=a,b), printing "ok NAME (ms)" for each; the first failure prints its stack and exits 1.
module.exports = async function runTests(tests) {
  const only = process.env.ONLY ? process.env.ONLY.split(',') : Object.keys(tests);
  for (const name of only) {
    const t0 = Date.now();
    try {
      if (!tests[name]) throw new Error(`no test named ${name}`);
      await tests[name]();
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      console.error(`FAIL ${name}: ${e.stack || e}`);
      process.exit(1);
    }
  }
};
