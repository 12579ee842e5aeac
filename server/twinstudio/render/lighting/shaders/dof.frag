#version 330 core
// Thin-lens depth of field as a gather ("scatter as gather") over the resolved image.
// Circle of confusion diameter in pixels: coc_k * |1/focus - 1/z| (see lens.py). Each pixel
// averages the taps of a golden-angle spiral, out to the widest blur among its neighbouring
// tiles, whose own blur disc covers it. A tap behind the pixel counts with no more blur
// than the pixel's, so a blurred background never bleeds over a sharp subject, while a
// blurred foreground does spill over what is behind it.

uniform sampler2D color_layer;   // premultiplied scene-linear rgba
uniform sampler2D depth_layer;   // view depth, metres
uniform sampler2D tile_radius;   // widest blur radius per TILE x TILE block
uniform float coc_k;
uniform float focus_distance;
uniform float max_radius;        // pixels

out vec4 out_color;

const int MAX_TAPS = 128;
const float GOLDEN_ANGLE = 2.39996323;

float coc_radius(float z)
{
    return min(0.5 * coc_k * abs(1.0 / focus_distance - 1.0 / max(z, 1e-4)), max_radius);
}

void main()
{
    ivec2 px = ivec2(gl_FragCoord.xy);
    ivec2 size = textureSize(color_layer, 0);
    float zc = texelFetch(depth_layer, px, 0).r;
    float rc = coc_radius(zc);
    vec4 acc = texelFetch(color_layer, px, 0);
    float wsum = 1.0;
    ivec2 tile = px / TILE;
    ivec2 tiles = textureSize(tile_radius, 0);
    float reach = rc;
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            ivec2 t = clamp(tile + ivec2(i, j), ivec2(0), tiles - 1);
            reach = max(reach, texelFetch(tile_radius, t, 0).r);
        }
    }
    // about one tap per 2.5 px^2 of the gathered disc
    int taps = reach < 0.5 ? 0 : clamp(int(reach * reach * 1.25), 8, MAX_TAPS);
    float spin = 6.2831853 * fract(52.9829189 * fract(dot(gl_FragCoord.xy, vec2(0.06711056, 0.00583715))));
    for (int i = 0; i < taps; i++) {
        float rr = sqrt((float(i) + 0.5) / float(taps)) * reach;
        float a = float(i) * GOLDEN_ANGLE + spin;
        ivec2 q = clamp(px + ivec2(round(rr * vec2(cos(a), sin(a)))), ivec2(0), size - 1);
        float z = texelFetch(depth_layer, q, 0).r;
        float rt = coc_radius(z);
        float r_eff = z > zc ? min(rt, rc) : rt;
        float w = clamp(r_eff - rr + 1.0, 0.0, 1.0);
        acc += texelFetch(color_layer, q, 0) * w;
        wsum += w;
    }
    out_color = acc / wsum;
}
