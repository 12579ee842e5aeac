#version 330 core
// Mesh vertices for the base and light passes (pyrender's attribute layout).
// gl_Position is invariant so every pass of a surface lands on the same depth.

layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
#endif
#ifdef TANGENT_LOC
layout(location = TANGENT_LOC) in vec4 tangent;
#endif
#ifdef TEXCOORD_0_LOC
layout(location = TEXCOORD_0_LOC) in vec2 texcoord_0;
#endif
#ifdef COLOR_0_LOC
layout(location = COLOR_0_LOC) in vec4 color_0;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;

uniform mat4 M;
uniform mat4 V;
uniform mat4 P;

invariant gl_Position;

out vec3 frag_position;
#ifdef NORMAL_LOC
out vec3 frag_normal;
#endif
#if defined(HAS_NORMAL_TEX) && defined(TANGENT_LOC) && defined(NORMAL_LOC)
out mat3 tbn;
#endif
#ifdef TEXCOORD_0_LOC
out vec2 uv_0;
#endif
#ifdef COLOR_0_LOC
out vec4 color_multiplier;
#endif

void main()
{
    mat4 model = M * inst_m;
    vec4 world = model * vec4(position, 1.0);
    gl_Position = P * (V * world);
    frag_position = world.xyz;
    mat3 N = transpose(inverse(mat3(model)));
#ifdef NORMAL_LOC
    frag_normal = normalize(N * normal);
#endif
#if defined(HAS_NORMAL_TEX) && defined(TANGENT_LOC) && defined(NORMAL_LOC)
    vec3 normal_w = normalize(N * normal);
    vec3 tangent_w = normalize(mat3(model) * tangent.xyz);
    vec3 bitangent_w = cross(normal_w, tangent_w) * tangent.w;
    tbn = mat3(tangent_w, bitangent_w, normal_w);
#endif
#ifdef TEXCOORD_0_LOC
    uv_0 = texcoord_0;
#endif
#ifdef COLOR_0_LOC
    color_multiplier = color_0;
#endif
}
