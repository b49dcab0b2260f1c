// Every test runs in Node and imports modules of src/ directly, not through the Node entry
// (src/node.ts) that installs the Node platform: install it here.
import '../src/platform/node.ts';
