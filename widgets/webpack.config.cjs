// Extra webpack settings for `build-labextension`: plotly.js ships minified, so its chunk skips a second
// (40-second) minification pass; everything else is minified as usual.
const TerserPlugin = require("terser-webpack-plugin");

module.exports = {
  optimization: {
    minimizer: [new TerserPlugin({ exclude: /plotly/ })],
  },
};
