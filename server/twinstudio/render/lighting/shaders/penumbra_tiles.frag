#version 330 core
// The widest penumbra blur radius (pixels) in each TILE x TILE block of the mask, so the
// blur can pass over whole regions in full light or in umbra at the cost of a few reads.

uniform sampler2D mask;  // g: blur radius (pixels)

out vec4 out_radius;

void main()
{
    ivec2 size = textureSize(mask, 0);
    ivec2 origin = ivec2(gl_FragCoord.xy) * TILE;
    float widest = 0.0;
    for (int j = 0; j < TILE; j++) {
        for (int i = 0; i < TILE; i++) {
            widest = max(widest, texelFetch(mask, min(origin + ivec2(i, j), size - 1), 0).g);
        }
    }
    out_radius = vec4(widest);
}
