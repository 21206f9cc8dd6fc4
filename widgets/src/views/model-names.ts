// The names every safesail widget model carries (its model and view class, in this module at this version), so
// that a model's defaults state only what is its own.
import { MODULE_NAME, MODULE_VERSION } from "../protocol.ts";

export function safesailNames(model: string, view: string) {
  return {
    _model_name: model,
    _model_module: MODULE_NAME,
    _model_module_version: MODULE_VERSION,
    _view_name: view,
    _view_module: MODULE_NAME,
    _view_module_version: MODULE_VERSION,
  };
}
