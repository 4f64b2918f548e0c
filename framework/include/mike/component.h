#pragma once
// Base of every object a plugin creates. The host owns it through a
// shared_ptr whose deleter also holds the plugin's library, so the code
// behind the vtable stays mapped while the object lives.
#include "mike/export.h"

namespace mike {

class MIKE_API Component {
 public:
  virtual ~Component();
  Component() = default;
  Component(const Component&) = delete;
  Component& operator=(const Component&) = delete;
};

}  // namespace mike
