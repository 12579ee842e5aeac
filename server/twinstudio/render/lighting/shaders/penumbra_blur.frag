#version 330 core
// One direction of the penumbra blur (x, then y) over one light's visibility.
// Each neighbour i pixels away weighs (1 - (i / R)^2)^2, R from the pixel's blur radius (a
// quarter of the narrowest penumbra's width on screen, so small at contact shadows), and
// only if it lies on this pixel's surface: its 1/depth within a small tolerance of the
// straight line through this pixel's (1/depth is affine in screen space on a plane).
// Penumbrae come out smooth; full shadow is kept as it is; edges across silhouettes and
// contact lines stay where they are.

uniform sampler2D source;  // r visibility, g blur radius (px), b 1 / view depth (1/m)
uniform sampler2D tiles;   // widest blur radius per TILE x TILE block
uniform vec2 direction;    // (1, 0) or (0, 1)

const float PLANE_TOLERANCE = 0.004;  // relative: off the surface beyond 0.4% of the depth
const float SUPPORT = 1.32;  // R / radius: about a Gaussian of sigma radius / 2

out vec4 out_visibility;  // r blurred visibility, g radius for the next pass, b 1 / depth

void main()
{
    ivec2 c = ivec2(gl_FragCoord.xy);
    ivec2 step = ivec2(direction);
    ivec2 size = textureSize(source, 0);
    vec4 m = texelFetch(source, c, 0);
    // Nothing to blur within reach (MAX_BLUR <= TILE): keep the pixel. A loop bound, not a
    // branch: llvmpipe skips a loop only when no pixel of its SIMD group runs it.
    ivec2 tile = c / TILE;
    ivec2 last = textureSize(tiles, 0) - 1;
    float reach = max(texelFetch(tiles, tile, 0).r, max(
        texelFetch(tiles, clamp(tile - step, ivec2(0), last), 0).r,
        texelFetch(tiles, clamp(tile + step, ivec2(0), last), 0).r));
    // Full shadow (every tap blocked) has no grain to take out: keep it, so the floor stays
    // dark right up to an object standing on it.
    int taps = reach < 0.5 || m.r <= 0.0 ? 0 : MAX_BLUR;

    // the surface's slope of 1/depth along this direction, from the flatter side
    float slope = 0.0;
    if (taps > 0) {
        float before = texelFetch(source, clamp(c - step, ivec2(0), size - 1), 0).b - m.b;
        float after = texelFetch(source, clamp(c + step, ivec2(0), size - 1), 0).b - m.b;
        slope = abs(before) < abs(after) ? -before : after;
    }
    float inv_tolerance = 1.0 / (PLANE_TOLERANCE * m.b);
    float sum = m.r;
    float weight = 1.0;
    // passed on for a pixel with no radius of its own: the next direction blurs what this
    // one spread into it
    float widest = m.g;
    for (int i = 1; i <= taps; i++) {
        for (int side = -1; side <= 1; side += 2) {
            ivec2 q = c + step * (i * side);
            if (any(lessThan(q, ivec2(0))) || any(greaterThanEqual(q, size))) {
                continue;
            }
            vec4 mq = texelFetch(source, q, 0);
            // a pixel whose search found no caster (radius 0, amid a penumbra's outer edge)
            // takes its neighbour's radius, so it is smoothed into the penumbra around it
            float support = SUPPORT * max(m.g > 0.0 ? m.g : mq.g, 1e-3);
            float k = max(1.0 - float(i * i) / (support * support), 0.0);
            float off_surface = abs(mq.b - (m.b + slope * float(i * side)));
            float w = k * k * max(1.0 - off_surface * inv_tolerance, 0.0);
            sum += w * mq.r;
            weight += w;
            widest = w > 0.0 && m.g <= 0.0 ? max(widest, mq.g) : widest;
        }
    }
    out_visibility = vec4(sum / weight, widest, m.b, 0.0);
}
