// The stylesheets the widgets need, in cascade order. The build (widgets/scripts/build-embed.mjs) turns each CSS
// import into a <style> element injected when the bundle runs, with @imports inlined and fonts and images as
// data: URIs (Font Awesome keeps only its woff2 faces), so the page loads no stylesheet, font or image.
import "@lumino/widgets/style/index.css";
import "@fortawesome/fontawesome-free/css/all.min.css";
import "@fortawesome/fontawesome-free/css/v4-shims.min.css";
// labvariables (the JupyterLab theme variables the controls read) + widgets-base (controls, sliders, lumino).
import "@jupyter-widgets/controls/css/widgets.css";
import "@jupyter-widgets/html-manager/css/output.css";
// The safesail views' own look (widgets/style/index.css, the JupyterLab extension's style; its variables fall back
// to plain values where JupyterLab's theme is absent).
import "../../style/index.css";
