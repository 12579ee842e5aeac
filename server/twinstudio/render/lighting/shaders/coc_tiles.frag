#version 330 core
// The largest blur radius (pixels) in each TILE x TILE block, so the depth-of-field gather
// knows how far a blurred neighbour can spill over a pixel (near-field bleeding).

uniform sampler2D depth_layer;   // view depth, metres
uniform float coc_k;
uniform float focus_distance;
uniform float max_radius;

out vec4 out_radius;

void main()
{
    ivec2 size = textureSize(depth_layer, 0);
    ivec2 origin = ivec2(gl_FragCoord.xy) * TILE;
    float widest = 0.0;
    for (int j = 0; j < TILE; j++) {
        for (int i = 0; i < TILE; i++) {
            ivec2 q = min(origin + ivec2(i, j), size - 1);
            float z = texelFetch(depth_layer, q, 0).r;
            widest = max(widest, 0.5 * coc_k * abs(1.0 / focus_distance - 1.0 / max(z, 1e-4)));
        }
    }
    out_radius = vec4(min(widest, max_radius));
}
