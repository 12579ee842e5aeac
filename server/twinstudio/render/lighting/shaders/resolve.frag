#version 330 core
// Supersampling resolve: the box mean of each FACTOR x FACTOR block in scene-linear light,
// the front transparent layer composited over the opaque one first; plus the block's
// nearest view depth in metres (far plane where nothing was hit), for depth of field.

uniform sampler2D opaque_layer;  // rgb radiance (background included), a coverage
uniform sampler2D opaque_depth;  // window depth
#ifdef FRONT_LAYER
uniform sampler2D front_layer;   // rgb lit radiance of the nearest blended surface, a opacity
#endif
uniform float near;
uniform float far;

layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_depth;

void main()
{
    ivec2 origin = ivec2(gl_FragCoord.xy) * FACTOR;
    vec4 sum = vec4(0.0);
    float nearest = far;
    for (int j = 0; j < FACTOR; j++) {
        for (int i = 0; i < FACTOR; i++) {
            ivec2 q = origin + ivec2(i, j);
            vec4 c = texelFetch(opaque_layer, q, 0);
#ifdef FRONT_LAYER
            vec4 f = texelFetch(front_layer, q, 0);
            c = vec4(mix(c.rgb, f.rgb, f.a), c.a + f.a * (1.0 - c.a));
#endif
            sum += c;
            float z = texelFetch(opaque_depth, q, 0).r;
            if (z < 1.0) {
                float ndc = 2.0 * z - 1.0;
                nearest = min(nearest, 2.0 * near * far / (far + near - ndc * (far - near)));
            }
        }
    }
    out_color = sum / float(FACTOR * FACTOR);
    out_depth = vec4(nearest);
}
