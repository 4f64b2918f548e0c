#include "mike/component.h"

namespace mike {
// Out-of-line so the vtable and type_info of Component live in
// libmike_sdk only; dynamic_cast across plugin libraries relies on it.
Component::~Component() = default;
}  // namespace mike
