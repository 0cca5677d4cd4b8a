#pragma once

/// Marks SDK declarations that must stay visible to plugins built with
/// -fvisibility=hidden: classes whose vtables and type_info live in
/// libnasx_sdk.so, and the free functions plugins call.
#define NASX_API __attribute__((visibility("default")))
