import { helper } from "./lib/helper.js";
export * from "./lib/reexport.js";
// import "./commented.js";
helper();
