// tfjs_effnet.js - EfficientNet-B0 (CoralNet's lukemelas variant, DESIGN.md) built with
// TensorFlow.js ops from the same safetensors weights polyp loads, for the benchmark's
// tfjs-wasm peer. Classic script: defines globalThis.buildEffnetTf(tf, tensors).
//
// NHWC throughout (tfjs's layout). Batch norm (eps 1e-3) is folded into the preceding conv's
// weights and a bias, as polyp does at load, so every conv is one tf.fused op with a bias
// (tfjs-backend-wasm runs those through XNNPACK). tfjs's pad 'same' is TensorFlow's SAME
// (the extra pixel after), which is exactly the padding the network was trained with.
// Swish has no fused tfjs activation: x * sigmoid(x) as two ops.
// Weight layouts: PyTorch conv [out, in, kh, kw] -> tf.conv2d filter [kh, kw, in, out];
// depthwise [C, 1, kh, kw] -> tf.depthwiseConv2d filter [kh, kw, C, 1]; SE 1x1 convs
// [out, in, 1, 1] -> matMul [in, out].
(function (g) {
  const EPS = 1e-3;
  // Stages: kernel, stride, expansion, in, out, repeats (DESIGN.md).
  const STAGES = [[3, 1, 1, 32, 16, 1], [3, 2, 6, 16, 24, 2], [5, 2, 6, 24, 40, 2],
    [3, 2, 6, 40, 80, 3], [5, 1, 6, 80, 112, 3], [5, 2, 6, 112, 192, 4], [3, 1, 6, 192, 320, 1]];

  g.buildEffnetTf = function buildEffnetTf(tf, T) {
    const get = (name) => {
      const t = T[name];
      if (!t) throw new Error(`tfjs effnet: weights lack ${name}`);
      return t;
    };
    // Folded conv: returns { filter: tf.Tensor4D [kh, kw, in, out] or [kh, kw, C, 1], bias }.
    function folded(convName, bnPrefix, depthwise) {
      const w = get(convName);
      const [o, i, kh, kw] = w.shape;
      const gamma = get(bnPrefix + '.weight').data, beta = get(bnPrefix + '.bias').data;
      const mean = get(bnPrefix + '.running_mean').data, vr = get(bnPrefix + '.running_var').data;
      const scale = new Float32Array(o), bias = new Float32Array(o);
      for (let c = 0; c < o; c++) {
        scale[c] = gamma[c] / Math.sqrt(vr[c] + EPS);
        bias[c] = beta[c] - mean[c] * scale[c];
      }
      const f = new Float32Array(o * i * kh * kw);
      for (let oc = 0; oc < o; oc++)
        for (let ic = 0; ic < i; ic++)
          for (let y = 0; y < kh; y++)
            for (let x = 0; x < kw; x++) {
              const v = w.data[((oc * i + ic) * kh + y) * kw + x] * scale[oc];
              if (depthwise) f[(y * kw + x) * o + oc] = v;                 // [kh, kw, C, 1]
              else f[((y * kw + x) * i + ic) * o + oc] = v;               // [kh, kw, in, out]
            }
      return {
        filter: depthwise ? tf.tensor4d(f, [kh, kw, o, 1]) : tf.tensor4d(f, [kh, kw, i, o]),
        bias: tf.tensor1d(bias),
        k: kh,
      };
    }
    function dense(name) {   // 1x1 conv with bias -> matMul weights [in, out], bias [out]
      const w = get(name + '.weight');
      const [o, i] = w.shape;
      const m = new Float32Array(i * o);
      for (let oc = 0; oc < o; oc++) for (let ic = 0; ic < i; ic++) m[ic * o + oc] = w.data[oc * i + ic];
      return { w: tf.tensor2d(m, [i, o]), b: tf.tensor1d(get(name + '.bias').data) };
    }

    const stem = folded('_conv_stem.weight', '_bn0', false);
    const blocks = [];
    let idx = 0;
    for (const [k, s, e, cin, cout, reps] of STAGES) {
      for (let r = 0; r < reps; r++, idx++) {
        const p = `_blocks.${idx}.`;
        const inC = r === 0 ? cin : cout;
        const stride = r === 0 ? s : 1;
        const b = {
          stride, residual: stride === 1 && inC === cout,
          expand: e !== 1 ? folded(p + '_expand_conv.weight', p + '_bn0', false) : null,
          dw: folded(p + '_depthwise_conv.weight', p + '_bn1', true),
          seR: dense(p + '_se_reduce'), seE: dense(p + '_se_expand'),
          project: folded(p + '_project_conv.weight', p + '_bn2', false),
        };
        if (b.dw.k !== k) throw new Error(`tfjs effnet: block ${idx} kernel ${b.dw.k}, expected ${k}`);
        blocks.push(b);
      }
    }
    const head = folded('_conv_head.weight', '_bn1', false);

    const swish = (x) => tf.mul(x, tf.sigmoid(x));
    const conv = (x, c, stride) => tf.fused.conv2d({ x, filter: c.filter, strides: stride, pad: 'same', bias: c.bias });

    /** x: [N, 224, 224, 3] float32 in [0, 1] -> [N, 1280] features. */
    function forward(x) {
      return tf.tidy(() => {
        let h = swish(conv(x, stem, 2));
        for (const b of blocks) {
          const inp = h;
          if (b.expand) h = swish(conv(h, b.expand, 1));
          h = swish(tf.fused.depthwiseConv2d({ x: h, filter: b.dw.filter, strides: b.stride, pad: 'same', bias: b.dw.bias }));
          const n = h.shape[0], c = h.shape[3];
          let s = tf.mean(h, [1, 2]);                                   // [N, C]
          s = swish(tf.fused.matMul({ a: s, b: b.seR.w, bias: b.seR.b }));
          s = tf.sigmoid(tf.fused.matMul({ a: s, b: b.seE.w, bias: b.seE.b }));
          h = tf.mul(h, tf.reshape(s, [n, 1, 1, c]));
          h = conv(h, b.project, 1);
          if (b.residual) h = tf.add(h, inp);
        }
        h = swish(conv(h, head, 1));
        return tf.mean(h, [1, 2]);
      });
    }
    return { forward, nBlocks: blocks.length };
  };
})(globalThis);
