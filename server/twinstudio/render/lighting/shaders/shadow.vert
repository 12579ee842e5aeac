#version 330 core
// Shadow casters seen from a light: world position out for the distance written.

layout(location = 0) in vec3 position;
#ifdef TEXCOORD_0_LOC
layout(location = TEXCOORD_0_LOC) in vec2 texcoord_0;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;

uniform mat4 M;
uniform mat4 V;
uniform mat4 P;

out vec3 frag_position;
#ifdef TEXCOORD_0_LOC
out vec2 uv_0;
#endif

void main()
{
    vec4 world = M * inst_m * vec4(position, 1.0);
    gl_Position = P * (V * world);
    frag_position = world.xyz;
#ifdef TEXCOORD_0_LOC
    uv_0 = texcoord_0;
#endif
}
