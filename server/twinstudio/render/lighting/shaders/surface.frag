#version 330 core
// Surfaces in scene-linear radiance (nits). Three passes share the material code:
//   STUDIO_BASE_PASS         emissive + the uniform dome; writes depth and coverage alpha;
//   STUDIO_LIGHT_PASS        one emitter (LIGHT_KIND), added on top with blending, optionally
//                            shadowed by a cube (SHADOW_CUBE) or orthographic (SHADOW_ORTHO)
//                            map (soft_shadows.glsl), or by its blurred visibility
//                            (SHADOW_MASK, penumbra.py);
//   STUDIO_SHADOW_MASK_PASS  that visibility per pixel, for the penumbra blur.
// The BRDF is pyrender's mesh.frag (Schlick F, Smith-Schlick G, GGX D on roughness^2), so a
// tiny sphere light lights a surface exactly like a pyrender PointLight of L*pi*r^2 candela.
// Area lights: diffuse is the exact irradiance of the emitter polygon clipped to the
// surface's horizon (Lambert's edge integral); specular uses the emitter point nearest the
// reflected ray with GGX alpha widened by the emitter's apparent size.

const float PI = 3.141592653589793;
const float MIN_ROUGHNESS = 0.04;

#define KIND_DISTANT 0
#define KIND_SPHERE 1
#define KIND_RECT 2
#define KIND_DISK 3
#define KIND_CYLINDER 4

struct Material {
    vec3 emissive_factor;
    vec4 base_color_factor;
    float metallic_factor;
    float roughness_factor;
#ifdef HAS_NORMAL_TEX
    sampler2D normal_texture;
#endif
#ifdef HAS_OCCLUSION_TEX
    sampler2D occlusion_texture;
#endif
#ifdef HAS_EMISSIVE_TEX
    sampler2D emissive_texture;
#endif
#ifdef HAS_BASE_COLOR_TEX
    sampler2D base_color_texture;
#endif
#ifdef HAS_METALLIC_ROUGHNESS_TEX
    sampler2D metallic_roughness_texture;
#endif
};

uniform Material material;
uniform float alpha_cutoff;
uniform vec3 cam_pos;

in vec3 frag_position;
#ifdef NORMAL_LOC
in vec3 frag_normal;
#endif
#if defined(HAS_NORMAL_TEX) && defined(TANGENT_LOC) && defined(NORMAL_LOC)
in mat3 tbn;
#endif
#ifdef TEXCOORD_0_LOC
in vec2 uv_0;
#endif
#ifdef COLOR_0_LOC
in vec4 color_multiplier;
#endif

out vec4 frag_color;

vec4 srgb_to_linear(vec4 srgb)
{
    vec3 b_less = step(vec3(0.04045), srgb.xyz);
    vec3 lin = mix(srgb.xyz / vec3(12.92), pow((srgb.xyz + vec3(0.055)) / vec3(1.055), vec3(2.4)), b_less);
    return vec4(lin, srgb.w);
}

struct Surface {
    vec3 p;          // world position
    vec3 n;          // shading normal
    vec3 ng;         // interpolated vertex normal (no normal map), facing the camera
    vec3 v;          // toward the camera
    vec3 c_diff;
    vec3 f0;
    float roughness; // perceptual, clamped like pyrender
    float opacity;
    vec3 emissive;
    float occlusion;
};

Surface load_surface()
{
    Surface s;
    s.p = frag_position;
    s.v = normalize(cam_pos - s.p);
    vec3 dpdx = dFdx(s.p);
    vec3 dpdy = dFdy(s.p);
    vec3 flat_n = normalize(cross(dpdx, dpdy));
    flat_n = dot(flat_n, s.v) < 0.0 ? -flat_n : flat_n;
#ifdef NORMAL_LOC
    vec3 n = normalize(frag_normal);
    // smooth across triangles, so shadow offsets do not show the facets
    s.ng = dot(n, flat_n) < 0.0 ? -n : n;
#else
    vec3 n = flat_n;
    s.ng = flat_n;
#endif
#ifdef HAS_NORMAL_TEX
#if defined(TANGENT_LOC) && defined(NORMAL_LOC)
    mat3 tbn_n = tbn;
#else
    vec3 tex_dx = dFdx(vec3(uv_0, 0.0));
    vec3 tex_dy = dFdy(vec3(uv_0, 0.0));
    vec3 t = (tex_dy.t * dpdx - tex_dx.t * dpdy) / (tex_dx.s * tex_dy.t - tex_dy.s * tex_dx.t);
    t = normalize(t - n * dot(n, t));
    mat3 tbn_n = mat3(t, normalize(cross(n, t)), n);
#endif
    vec3 nt = texture(material.normal_texture, uv_0).rgb;
    n = normalize(tbn_n * (2.0 * nt - 1.0));
#endif
#ifdef DOUBLE_SIDED
    if (!gl_FrontFacing) {
        n = -n;
    }
#endif
    s.n = n;

    vec4 base_color = material.base_color_factor;
#ifdef HAS_BASE_COLOR_TEX
    base_color *= srgb_to_linear(texture(material.base_color_texture, uv_0));
#endif
#ifdef COLOR_0_LOC
    base_color *= color_multiplier;
#endif
#ifdef ALPHA_MASK
    if (base_color.a < alpha_cutoff) {
        discard;
    }
    base_color.a = 1.0;
#endif
    s.opacity = base_color.a;

    float roughness = material.roughness_factor;
    float metallic = material.metallic_factor;
#ifdef HAS_METALLIC_ROUGHNESS_TEX
    vec2 mr = texture(material.metallic_roughness_texture, uv_0).rg;
    roughness *= mr.r;
    metallic *= mr.g;
#endif
    s.roughness = clamp(roughness, MIN_ROUGHNESS, 1.0);
    metallic = clamp(metallic, 0.0, 1.0);
    s.c_diff = mix(vec3(0.0), base_color.rgb * (1.0 - MIN_ROUGHNESS), 1.0 - metallic);
    s.f0 = mix(vec3(MIN_ROUGHNESS), base_color.rgb, metallic);

    s.emissive = material.emissive_factor;
#ifdef HAS_EMISSIVE_TEX
    s.emissive *= srgb_to_linear(texture(material.emissive_texture, uv_0)).rgb;
#endif
    s.occlusion = 1.0;
#ifdef HAS_OCCLUSION_TEX
    s.occlusion = texture(material.occlusion_texture, uv_0).r;
#endif
    return s;
}

///////////////////////////////////////////////////////////////////////////////
#ifdef STUDIO_BASE_PASS

uniform vec3 dome_radiance;

// Karis' analytic fit of the split-sum environment BRDF (scale, bias on f0).
vec2 env_brdf(float roughness, float nv)
{
    const vec4 c0 = vec4(-1.0, -0.0275, -0.572, 0.022);
    const vec4 c1 = vec4(1.0, 0.0425, 1.04, -0.04);
    vec4 r = roughness * c0 + c1;
    float a004 = min(r.x * r.x, exp2(-9.28 * nv)) * r.x + r.y;
    return vec2(-1.04, 1.04) * a004 + r.zw;
}

void main()
{
    Surface s = load_surface();
    float nv = clamp(abs(dot(s.n, s.v)), 0.001, 1.0);
    vec2 ab = env_brdf(s.roughness, nv);
    // a uniform dome of radiance L: irradiance pi*L on any normal, diffuse c_diff*L
    vec3 dome = dome_radiance * (s.c_diff + s.f0 * ab.x + ab.y) * s.occlusion;
    frag_color = vec4(s.emissive + dome, s.opacity);
}

#endif

///////////////////////////////////////////////////////////////////////////////
#if defined(STUDIO_LIGHT_PASS) || defined(STUDIO_SHADOW_MASK_PASS)

uniform vec3 light_position;
uniform vec3 light_x;       // world unit vectors of the light's local X, Y
uniform vec3 light_y;
uniform vec3 light_axis;    // emission direction (local -Z)
uniform vec2 light_half;    // rect: half w, half h; cylinder: half length, radius; else radius
uniform vec3 light_radiance; // nits (lux for distant)
uniform float light_tan_half;
uniform float cone_cutoff;
uniform float cone_start;
uniform float cone_focus;

vec3 fresnel(vec3 f0, float vh)
{
    return f0 + (1.0 - f0) * pow(clamp(1.0 - vh, 0.0, 1.0), 5.0);
}

// pyrender's specular lobe for light from direction l, times cos; alpha = GGX alpha.
vec3 specular(vec3 n, vec3 v, vec3 l, vec3 f0, float roughness, float alpha)
{
    vec3 h = normalize(l + v);
    float nl = clamp(dot(n, l), 0.001, 1.0);
    float nv = clamp(abs(dot(n, v)), 0.001, 1.0);
    float nh = clamp(dot(n, h), 0.0, 1.0);
    float vh = clamp(dot(v, h), 0.0, 1.0);
    float r = roughness + 1.0;
    float k = r * r / 8.0;
    float g = (nv / (nv * (1.0 - k) + k)) * (nl / (nl * (1.0 - k) + k));
    float a2 = alpha * alpha;
    float dn = nh * nh * (a2 - 1.0) + 1.0;
    float d = a2 / (PI * dn * dn);
    vec3 spec = fresnel(f0, vh) * g * d / (4.0 * nl * nv + 0.001);
    return spec * nl * step(0.0, dot(n, l));
}

// pyrender's diffuse lobe, without the cosine (irradiance carries it).
vec3 diffuse(vec3 n, vec3 v, vec3 l, vec3 f0, vec3 c_diff)
{
    vec3 h = normalize(l + v);
    float vh = clamp(dot(v, h), 0.0, 1.0);
    return (1.0 - fresnel(f0, vh)) * c_diff / PI;
}

float shaping(vec3 emit_dir)
{
    float c = clamp(dot(emit_dir, light_axis), -1.0, 1.0);
    float f = cone_focus > 0.0 ? pow(abs(c), cone_focus) : 1.0;
    float t = clamp((acos(c) - cone_start) / max(cone_cutoff - cone_start, 1e-6), 0.0, 1.0);
    return f * (1.0 - t * t * (3.0 - 2.0 * t));
}

#include "soft_shadows.glsl"

// Lambert's edge integral for one edge a->b (relative to the shading point).
vec3 edge_integral(vec3 a, vec3 b)
{
    vec3 an = normalize(a);
    vec3 bn = normalize(b);
    vec3 c = cross(an, bn);
    float s = length(c);
    float theta = atan(s, dot(an, bn));
    return s > 1e-9 ? c * (theta / s) : vec3(0.0);
}

#if LIGHT_KIND != KIND_DISTANT

#if LIGHT_KIND == KIND_RECT || LIGHT_KIND == KIND_CYLINDER
#define POLY_N 4
#else
#define POLY_N 8
#endif
// an 8-gon with the area of its circumscribed circle: r' = r * sqrt(pi / (2 sqrt 2))
const float EQUAL_AREA_8 = 1.0539;

// Vertex i of the emitter polygon seen from p (world): centre c, half axes e1, e2.
vec3 poly_vertex(int i, vec3 c, vec3 e1, vec3 e2)
{
#if POLY_N == 4
    vec2 k = vec2(i == 1 || i == 2 ? 1.0 : -1.0, i >= 2 ? 1.0 : -1.0);
#else
    float phi = float(i) * (PI / 4.0);
    vec2 k = EQUAL_AREA_8 * vec2(cos(phi), sin(phi));
#endif
    return c + k.x * e1 + k.y * e2;
}

// Irradiance factor pi*F (F = form factor) of the polygon clipped to the horizon of n.
// Edges are clipped on the fly; the clipped polygon closes along the horizon, from where
// the boundary leaves the upper hemisphere to where it re-enters.
float polygon_irradiance(vec3 p, vec3 n, vec3 c, vec3 e1, vec3 e2)
{
    vec3 sum = vec3(0.0);
    vec3 exit_pt = vec3(0.0);
    vec3 entry_pt = vec3(0.0);
    vec3 a = poly_vertex(0, c, e1, e2) - p;
    float da = dot(a, n);
    for (int i = 0; i < POLY_N; i++) {
        vec3 b = poly_vertex((i + 1) % POLY_N, c, e1, e2) - p;
        float db = dot(b, n);
        vec3 x = a + (b - a) * (da / (da - db + (da == db ? 1e-9 : 0.0)));
        bool a_up = da >= 0.0;
        bool b_up = db >= 0.0;
        vec3 a2 = a_up ? a : x;
        vec3 b2 = b_up ? b : x;
        if (a_up || b_up) {
            sum += edge_integral(a2, b2);
        }
        if (a_up && !b_up) {
            exit_pt = x;
        }
        if (!a_up && b_up) {
            entry_pt = x;
        }
        a = b;
        da = db;
    }
    if (dot(exit_pt, exit_pt) > 0.0 && dot(entry_pt, entry_pt) > 0.0) {
        sum += edge_integral(exit_pt, entry_pt);
    }
    return 0.5 * abs(dot(sum, n));
}

// The emitter seen from a point in direction w at distance d from its centre: the centre pc
// and half axes e1, e2 (world) of the rectangle or disc the irradiance integrates and the
// shadow taps are laid over. A sphere is its silhouette disc, a cylinder the 2r x l
// rectangle facing the point.
void emitter_half_axes(vec3 w, float d, out vec3 pc, out vec3 e1, out vec3 e2)
{
    pc = light_position;
#if LIGHT_KIND == KIND_RECT
    e1 = light_x * light_half.x;
    e2 = light_y * light_half.y;
#elif LIGHT_KIND == KIND_DISK
    e1 = light_x * light_half.x;
    e2 = light_y * light_half.x;
#elif LIGHT_KIND == KIND_SPHERE
    float radius = light_half.x;
    float dc = max(d, radius * 1.0001);
    vec3 b1 = normalize(cross(w, abs(w.y) < 0.9 ? vec3(0.0, 1.0, 0.0) : vec3(1.0, 0.0, 0.0)));
    vec3 b2 = cross(w, b1);
    // the silhouette circle: radius r sqrt(1 - r^2/d^2), r^2/d toward the point
    float sil = radius * sqrt(max(1.0 - radius * radius / (dc * dc), 0.0));
    pc = light_position + w * (radius * radius / dc);
    e1 = b1 * sil;
    e2 = b2 * sil;
#else
    vec3 across = cross(light_x, w);
    float sin_axis = length(across);
    e1 = light_x * light_half.x;
    e2 = (sin_axis > 1e-6 ? across / sin_axis : light_y) * light_half.y;
#endif
}

#endif

#if defined(SHADOW_CUBE) || defined(SHADOW_ORTHO)
// Fraction of the emitter the surface point sees, and the world-space half width of the
// penumbra there (0 where no blocker was found).
float light_visibility(Surface s, out float penumbra)
{
#ifdef SHADOW_ORTHO
    return shadow_visibility(s.p, s.ng, penumbra);
#else
    vec3 D = s.p - light_position;
    float d = max(length(D), 1e-6);
    vec3 pc;
    vec3 e1;
    vec3 e2;
    emitter_half_axes(D / d, d, pc, e1, e2);
    return shadow_visibility(s.p, s.ng, e1, e2, penumbra);
#endif
}
#endif

#endif

///////////////////////////////////////////////////////////////////////////////
#ifdef STUDIO_SHADOW_MASK_PASS
// One light's visibility per pixel of the opaque layer, for the penumbra blur (see
// penumbra.py): r visibility, g the blur radius in pixels (a quarter of the penumbra's
// width on screen, 0 where no blocker was found), b 1 / view depth.

uniform mat4 V;
uniform float focal_px;      // focal length in pixels: screen size of 1 m at 1 m
uniform float max_blur;      // pixels

void main()
{
    Surface s = load_surface();
    float penumbra;
    float vis = light_visibility(s, penumbra);
    float depth = max(-(V * vec4(s.p, 1.0)).z, 1e-4);
    float radius = clamp(0.5 * penumbra * focal_px / depth, 0.0, max_blur);
    frag_color = vec4(vis, radius, 1.0 / depth, 0.0);
}

#endif

///////////////////////////////////////////////////////////////////////////////
#ifdef STUDIO_LIGHT_PASS

#ifdef SHADOW_MASK
uniform sampler2D shadow_mask;  // this light's visibility, blurred within penumbrae
#endif

void main()
{
    Surface s = load_surface();
    vec3 p = s.p;
    vec3 n = s.n;
    vec3 v = s.v;
    float alpha = s.roughness * s.roughness;
    vec3 color;

#if LIGHT_KIND == KIND_DISTANT
    vec3 l = -light_axis;
    float nl = max(dot(n, l), 0.0);
    vec3 E = light_radiance * nl;
    color = diffuse(n, v, l, s.f0, s.c_diff) * E
          + specular(n, v, l, s.f0, s.roughness, min(alpha + 0.5 * light_tan_half, 1.0)) * light_radiance;

#else
    vec3 D = p - light_position;
    float d = max(length(D), 1e-6);
    vec3 w = D / d;
    vec3 r = reflect(-v, n);
    vec3 pc = light_position;  // polygon centre
    vec3 e1;
    vec3 e2;
    vec3 rep;                  // emitter point nearest the reflected ray
    float area_toward;         // projected area toward p (m^2)
    float size;                // equivalent radius for roughness widening
    float front = 1.0;

#if LIGHT_KIND == KIND_RECT || LIGHT_KIND == KIND_DISK
    front = step(0.0, dot(D, light_axis));
    float cos_e = max(dot(w, light_axis), 0.0);
    emitter_half_axes(w, d, pc, e1, e2);
#if LIGHT_KIND == KIND_RECT
    area_toward = 4.0 * light_half.x * light_half.y * cos_e;
    size = sqrt(4.0 * light_half.x * light_half.y / PI);
#else
    area_toward = PI * light_half.x * light_half.x * cos_e;
    size = light_half.x;
#endif
    float rn = dot(r, light_axis);
    float t = rn < -1e-4 ? dot(light_position - p, light_axis) / rn : -1.0;
    vec3 hit = t > 0.0 ? p + r * t : p + r * d;
    vec3 rel = hit - light_position;
    vec2 loc = vec2(dot(rel, light_x), dot(rel, light_y));
#if LIGHT_KIND == KIND_RECT
    loc = clamp(loc, -light_half, light_half);
#else
    loc *= min(1.0, light_half.x / max(length(loc), 1e-9));
#endif
    rep = light_position + light_x * loc.x + light_y * loc.y;

#elif LIGHT_KIND == KIND_SPHERE
    float radius = light_half.x;
    emitter_half_axes(w, d, pc, e1, e2);
    area_toward = PI * radius * radius;
    size = radius;
    vec3 lc = light_position - p;
    vec3 to_ray = dot(lc, r) * r - lc;
    rep = p + lc + to_ray * clamp(radius / max(length(to_ray), 1e-9), 0.0, 1.0);

#elif LIGHT_KIND == KIND_CYLINDER
    float half_len = light_half.x;
    float radius = light_half.y;
    float sin_axis = length(cross(light_x, w));
    emitter_half_axes(w, d, pc, e1, e2);
    area_toward = 4.0 * radius * half_len * sin_axis;
    size = sqrt(4.0 * radius * half_len / PI);
    // Karis' tube: nearest point of the axis segment to the ray, then the sphere step
    vec3 l0 = light_position - light_x * half_len - p;
    vec3 l1 = light_position + light_x * half_len - p;
    vec3 ld = l1 - l0;
    float rd = dot(r, ld);
    float tt = clamp((dot(r, l0) * rd - dot(l0, ld)) / max(dot(ld, ld) - rd * rd, 1e-9), 0.0, 1.0);
    vec3 lp = l0 + ld * tt;
    vec3 to_ray = dot(lp, r) * r - lp;
    rep = p + lp + to_ray * clamp(radius / max(length(to_ray), 1e-9), 0.0, 1.0);
#endif

    vec3 L = light_radiance * (shaping(w) * front);
    float irradiance = polygon_irradiance(p, n, pc, e1, e2);   // pi * F
    vec3 lc_dir = normalize(light_position - p);
    vec3 color_d = diffuse(n, v, lc_dir, s.f0, s.c_diff) * L * irradiance;

    vec3 rs = rep - p;
    float ds2 = max(dot(rs, rs), 1e-8);
    vec3 ls = rs * inversesqrt(ds2);
    float alpha_s = min(alpha + size * inversesqrt(ds2) * 0.5, 1.0);
    // illuminance of the emitter seen as a point at rep; no surface gets more than pi * L
    vec3 E_s = L * min(area_toward / ds2, PI);
    vec3 color_s = specular(n, v, ls, s.f0, s.roughness, alpha_s) * E_s;
    color = color_d + color_s;

#endif

#ifdef SHADOW_MASK
    color *= texelFetch(shadow_mask, ivec2(gl_FragCoord.xy), 0).r;
#elif defined(SHADOW_CUBE) || defined(SHADOW_ORTHO)
    float penumbra;
    color *= light_visibility(s, penumbra);
#endif

    frag_color = vec4(color, 0.0);
}

#endif
