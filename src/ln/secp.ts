/** ln/'s access to the secp256k1 port, which lives in keys/secp.ts (the lower layer). */
export { CURVE_N, SECP_BACKENDS, secp, selfTest, useSecp, scalarAdd, scalarMul, isValidScalar, type Secp256k1 } from '../keys/secp.js';
