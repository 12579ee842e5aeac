// Soft shadows from one depth map per light, PCSS sized by the real emitter. Included by
// surface.frag in the light pass (it needs the light_* uniforms and LIGHT_KIND).
//
// A ray from emitter offset o to the receiver p crosses casters at depth d_b in direction
// D + o (d_r - d_b) / d_b (D = p - light centre, d_r = |D|), so both steps lay their taps
// over the emitter's own rectangle or disc:
//   1. blocker search: SHADOW_SEARCH_TAPS raw depth reads over the emitter scaled by
//      BLOCKER_SEARCH. The first is the light's centre itself and the rest are drawn in
//      toward it, so casters close to the receiver (contact shadows, an arm over the ribs)
//      are found as surely as far ones. A caster counts only if it hides a point of the
//      emitter from p (see caster_limit). d_b is the mean depth of those found; none found
//      means fully lit, and the filter is skipped;
//   2. filter: SHADOW_FILTER_TAPS taps spread evenly over the emitter scaled by
//      (d_r - d_b) / d_b. Each is a hardware depth comparison with bilinear filtering
//      (4 texels, GL_COMPARE_REF_TO_TEXTURE + GL_LINEAR), so visibility varies smoothly
//      with position instead of in steps of 1 / N.
// Every pixel uses the same well-spread pattern (a golden-ratio lattice on the square),
// shifted around the square by interleaved gradient noise: neighbouring pixels get
// complementary shifts, so the error left is fine and even, for the penumbra blur
// (penumbra.py) and the supersample resolve to average away.
// Only emitter points above the receiver's horizon count: the irradiance already clips the
// emitter to the horizon, and below it the map only sees the receiver's own surface. The
// receiver's tangent plane along a tap keeps surfaces at a grazing angle to the light from
// shadowing themselves; nothing farther from the light than p itself can shadow it, so a
// curved receiver cannot hide a real caster.

const float SHADOW_BIAS = 0.001;   // relative to the receiver distance
const float BLOCKER_SEARCH = 2.0;  // finds blockers down to a third of the way to the light
const float MAX_PENUMBRA = 12.0;
// Filter taps count a caster if it hides a point of the emitter grown FILTER_REACH^-1 times
// (see caster_limit). A tap only sees the front of a solid caster, which can hide a point
// off the emitter while its body hides the tap's own point (a box standing on the floor,
// near its foot): so the test is loose. It still keeps a floor from shadowing the foot of
// the wall it meets, which "anything in front of p" does. 0.5 leaks light at a box's foot.
const float FILTER_REACH = 0.15;
const float GOLDEN = 0.6180339887498949;

uniform float shadow_range;        // metres per unit of stored depth
uniform float shadow_texel;        // cube: texel size / distance at a face centre; ortho: m

// Interleaved gradient noise (Jimenez 2014) and its transpose: a per-pixel shift of the tap
// pattern whose 2x2 and 3x3 neighbourhoods are evenly spread over the unit square.
vec2 pixel_shift()
{
    vec2 px = floor(gl_FragCoord.xy);
    const vec3 k = vec3(0.06711056, 0.00583715, 52.9829189);
    return vec2(fract(k.z * fract(dot(px, k.xy))), fract(k.z * fract(dot(px.yx + 7.0, k.xy))));
}

// Tap i of n in [-1, 1]^2: a golden-ratio lattice (stratified in x and in y, no clumps or
// rows for any n), shifted around the square by `shift`.
vec2 lattice_tap(int i, int n, vec2 shift)
{
    vec2 u = vec2((float(i) + 0.5) / float(n), fract(float(i) * GOLDEN));
    return fract(u + shift) * 2.0 - 1.0;
}

// Blocker-search tap i of n: the centre itself first (a blocker right on the line to the
// light's centre is always found, however close to the receiver), then the other n - 1 on
// the lattice drawn in toward the centre, radius r (max norm) to r^3, so that a fraction
// sqrt(x) of them lies within x of it.
vec2 search_tap(int i, int n, vec2 shift)
{
    vec2 u = lattice_tap(i - 1, n - 1, shift);
    float r = max(abs(u.x), abs(u.y));
    return i == 0 ? vec2(0.0) : u * (r * r);
}

// Shirley-Chiu concentric map of [-1, 1]^2 onto the unit disk (keeps strata).
vec2 disk_tap(vec2 u)
{
    if (u.x == 0.0 && u.y == 0.0) {
        return vec2(0.0);
    }
    float r;
    float phi;
    if (abs(u.x) > abs(u.y)) {
        r = u.x;
        phi = (PI / 4.0) * (u.y / u.x);
    } else {
        r = u.y;
        phi = (PI / 2.0) - (PI / 4.0) * (u.x / u.y);
    }
    return r * vec2(cos(phi), sin(phi));
}

#if LIGHT_KIND == KIND_SPHERE || LIGHT_KIND == KIND_DISK || LIGHT_KIND == KIND_DISTANT
#define ROUND_EMITTER 1
#endif

// How far out on the emitter a lattice point lies: 1 on its rim (the concentric map to the
// disc keeps this max-norm radius).
float shape_radius(vec2 q)
{
    return max(abs(q.x), abs(q.y));
}

// A point of the emitter's shape in its own [-1, 1] coordinates.
vec2 emitter_shape(vec2 u)
{
#ifdef ROUND_EMITTER
    return disk_tap(u);
#else
    return u;
#endif
}

#ifdef SHADOW_CUBE
uniform samplerCube shadow_depth;        // distance to the nearest caster / shadow_range
uniform samplerCubeShadow shadow_test;   // the same texture, compared and bilinear

// How near the light a caster seen along unit dir must be to shadow p, for a tap at
// D + o * scale with reach = shape_radius(o) * scale (see shadow_visibility): nearer than
// the receiver's tangent plane (normal ng) along dir, and near enough to hide a point of
// the emitter: a caster at depth s there lies on the ray to p from emitter offset
// o * scale * s / (d_r - s), which is on the emitter only while reach * s <= d_r - s.
float caster_limit(vec3 dir, vec3 D, vec3 ng, float d_r, float reach)
{
    float dn = dot(dir, ng);
    float t = dot(D, ng) / (abs(dn) > 1e-6 ? dn : 1e-6);
    float plane = t > 0.0 ? clamp(t, 0.5 * d_r, d_r) : d_r;
    return min(plane, d_r / (1.0 + reach)) * (1.0 - SHADOW_BIAS);
}

// Fraction of the emitter (half extents e1, e2 as seen from p) that p sees; ng is the
// camera-side geometric normal. penumbra: the half width at p (m) of the narrowest
// penumbra of the casters found, 0 if none.
float shadow_visibility(vec3 p, vec3 ng, vec3 e1, vec3 e2, out float penumbra)
{
    vec3 D0 = p - light_position;
    float d0 = length(D0);
    // Normal offset along the outward (camera-side) normal, growing toward the terminator:
    // there the light's centre sees the surface's own curvature, which the horizon clip of
    // the irradiance already accounts for.
    float texel = shadow_texel * d0;
    float facing = dot(ng, -D0) / d0;
    vec3 D = D0 + ng * (texel * (1.0 + 3.0 * clamp(1.0 - facing, 0.0, 2.0)));
    vec3 ngl = dot(ng, D) < 0.0 ? ng : -ng;
    float d_r = length(D);
    float horizon = dot(D, ng);  // emitter offsets o with dot(o, ng) > this are above it
    vec3 w = D / d_r;
    vec3 b1 = normalize(cross(w, abs(w.y) < 0.9 ? vec3(0.0, 1.0, 0.0) : vec3(1.0, 0.0, 0.0)));
    vec3 b2 = cross(w, b1);
    vec2 shift = pixel_shift();
    float min_filter = texel;  // each tap already spans a texel (bilinear)

    float blockers = 0.0;
    float depth_sum = 0.0;
    float nearest = 0.0;  // depth of the caster nearest the receiver
    for (int i = 0; i < SHADOW_SEARCH_TAPS; i++) {
        vec2 q = search_tap(i, SHADOW_SEARCH_TAPS, shift);
        vec2 u = emitter_shape(q);
        vec3 o = u.x * e1 + u.y * e2;
        vec3 dir = normalize(D + o * BLOCKER_SEARCH + (u.x * b1 + u.y * b2) * min_filter);
        float s = texture(shadow_depth, dir).r * shadow_range;
        bool hit = dot(o, ng) > horizon
            && s < caster_limit(dir, D, ngl, d_r, shape_radius(q) * BLOCKER_SEARCH);
        blockers += hit ? 1.0 : 0.0;
        depth_sum += hit ? s : 0.0;
        nearest = hit ? max(nearest, s) : nearest;
    }
    // no blocker: skip filtering (a loop, so whole SIMD groups really skip it on llvmpipe)
    int n = blockers > 0.0 ? SHADOW_FILTER_TAPS : 0;
    float d_b = depth_sum / max(blockers, 1.0);
    float spread = clamp((d_r - d_b) / max(d_b, 1e-4), 0.0, MAX_PENUMBRA);
    float lit = 0.0;
    float seen = 0.0;
    for (int i = 0; i < n; i++) {
        vec2 q = lattice_tap(i, SHADOW_FILTER_TAPS, shift);
        vec2 u = emitter_shape(q);
        vec3 o = u.x * e1 + u.y * e2;
        if (dot(o, ng) > horizon) {
            vec3 dir = normalize(D + o * spread + (u.x * b1 + u.y * b2) * min_filter);
            float reach = FILTER_REACH * shape_radius(q) * spread;
            float limit = caster_limit(dir, D, ngl, d_r, reach);
            lit += texture(shadow_test, vec4(dir, limit / shadow_range));
            seen += 1.0;
        }
    }
    // the narrowest penumbra here: the one of the caster nearest the receiver, so the
    // penumbra blur keeps contact shadows as sharp as they are
    float narrowest = clamp((d_r - nearest) / max(nearest, 1e-4), 0.0, spread);
    penumbra = n > 0 ? narrowest * max(length(e1), length(e2)) + min_filter : 0.0;
    return seen > 0.0 ? lit / seen : 1.0;
}
#endif

#ifdef SHADOW_ORTHO
uniform sampler2D shadow_depth;       // depth along light_axis past shadow_origin's plane
uniform sampler2DShadow shadow_test;  // the same texture, compared and bilinear
uniform vec3 shadow_origin;           // centre of the shadow box's near face
uniform float shadow_half_extent;

// Fraction of the sun's disc that p sees; ng is the camera-side geometric normal.
// penumbra: the penumbra's half width at p (m), 0 if lit.
float shadow_visibility(vec3 p, vec3 ng, out float penumbra)
{
    float facing = -dot(ng, light_axis);
    vec3 q = p + ng * (shadow_texel * (1.5 + 4.0 * clamp(1.0 - facing, 0.0, 2.0))) - shadow_origin;
    vec3 ngl = facing > 0.0 ? ng : -ng;
    vec2 xy = vec2(dot(q, light_x), dot(q, light_y));
    float d_r = dot(q, light_axis);
    // receiver tangent plane: depth grows by dot(slope, offset), capped at the receiver's
    vec3 nl = vec3(dot(ngl, light_x), dot(ngl, light_y), dot(ngl, light_axis));
    float nz = abs(nl.z) > 0.1 ? nl.z : (nl.z < 0.0 ? -0.1 : 0.1);
    vec2 slope = -nl.xy / nz;
    vec2 shift = pixel_shift();
    float to_uv = 0.5 / shadow_half_extent;
    float min_filter = shadow_texel;
    float bias = SHADOW_BIAS * d_r;

    float search = d_r * light_tan_half + min_filter;
    float blockers = 0.0;
    float depth_sum = 0.0;
    for (int i = 0; i < SHADOW_SEARCH_TAPS; i++) {
        vec2 o = emitter_shape(search_tap(i, SHADOW_SEARCH_TAPS, shift)) * search;
        float s = texture(shadow_depth, (xy + o) * to_uv + 0.5).r * shadow_range;
        bool hit = s < min(d_r + dot(slope, o), d_r) - bias;
        blockers += hit ? 1.0 : 0.0;
        depth_sum += hit ? s : 0.0;
    }
    int n = blockers > 0.0 ? SHADOW_FILTER_TAPS : 0;
    float d_b = depth_sum / max(blockers, 1.0);
    float radius = max(d_r - d_b, 0.0) * light_tan_half + min_filter;
    float lit = 0.0;
    for (int i = 0; i < n; i++) {
        vec2 o = emitter_shape(lattice_tap(i, SHADOW_FILTER_TAPS, shift)) * radius;
        float ref = min(d_r + dot(slope, o), d_r) - bias;
        lit += texture(shadow_test, vec3((xy + o) * to_uv + 0.5, ref / shadow_range));
    }
    penumbra = n > 0 ? radius : 0.0;
    return n > 0 ? lit / float(n) : 1.0;
}
#endif
