import "./deep.js";
export function helper() { return 1; }
