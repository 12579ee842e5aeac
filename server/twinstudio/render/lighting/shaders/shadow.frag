#version 330 core
// Writes how far the nearest caster is from the light, as the fragment's depth (over
// shadow_range, so a depth map can be sampled with hardware comparison): the distance to
// light_position for cube maps (SHADOW_CUBE), the depth along light_axis past shadow_origin
// otherwise.

uniform vec3 light_position;
uniform vec3 light_axis;
uniform vec3 shadow_origin;
uniform float shadow_range;
#ifdef ALPHA_MASK
uniform vec4 base_color_factor;
uniform float alpha_cutoff;
#ifdef HAS_BASE_COLOR_TEX
uniform sampler2D base_color_texture;
#endif
#endif

in vec3 frag_position;
#ifdef TEXCOORD_0_LOC
in vec2 uv_0;
#endif

void main()
{
#ifdef ALPHA_MASK
    float a = base_color_factor.a;
#ifdef HAS_BASE_COLOR_TEX
    a *= texture(base_color_texture, uv_0).a;
#endif
    if (a < alpha_cutoff) {
        discard;
    }
#endif
#ifdef SHADOW_CUBE
    float dist = length(frag_position - light_position);
#else
    float dist = dot(frag_position - shadow_origin, light_axis);
#endif
    gl_FragDepth = clamp(dist / shadow_range, 0.0, 1.0);
}
